//! One look at Docker without the watcher: every container with its healthcheck runs (as
//! many as Docker's own 5-entry log holds), for `vantage check` run on the host.

use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};
use vantage_shared::{ContainerSummary, HealthcheckRun};

use super::client::{connect, describe};
use super::convert::{convert_health_log, convert_inspect, health_log};

/// Every container Docker has, sorted by name, with its recent healthcheck runs; `Err`
/// says in plain words why Docker cannot be reached.
pub async fn snapshot(
    endpoint: &str,
) -> Result<Vec<(ContainerSummary, Vec<HealthcheckRun>)>, String> {
    let docker = connect(endpoint).await?;
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(|e| describe(&e, endpoint))?;
    let mut out = Vec::new();
    for id in list.into_iter().filter_map(|c| c.id) {
        let inspect = match docker
            .inspect_container(&id, None::<InspectContainerOptions>)
            .await
        {
            Ok(i) => i,
            // Removed since the list: nothing to check.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => continue,
            Err(e) => return Err(describe(&e, endpoint)),
        };
        let Some(detail) = convert_inspect(&inspect) else {
            continue;
        };
        let log = health_log(&inspect);
        let runs = convert_health_log(&detail, &log);
        out.push((detail.summary, runs));
    }
    out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    Ok(out)
}
