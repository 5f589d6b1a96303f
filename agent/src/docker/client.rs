//! Connecting to the Docker daemon, and the words for why it cannot be reached.

use std::time::Duration;

use bollard::Docker;

/// Requests that do not answer within this time count as a failed connection.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for `endpoint` (the `--docker-host` option, else `DOCKER_HOST`, else the
/// local socket: see the config), speaking an API version the daemon accepts.
pub(super) async fn connect(endpoint: &str) -> Result<Docker, String> {
    let docker = Docker::connect_with_host(endpoint)
        .map_err(|e| describe(&e, endpoint))?
        .with_timeout(REQUEST_TIMEOUT);
    // Debian's engine speaks API 1.41; bollard defaults to a newer one.
    docker
        .negotiate_version()
        .await
        .map_err(|e| describe(&e, endpoint))
}

/// Plain words for why Docker cannot be reached.
pub(super) fn describe(e: &bollard::errors::Error, endpoint: &str) -> String {
    use bollard::errors::Error as E;
    match e {
        E::RequestTimeoutError => format!(
            "{endpoint} did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ),
        E::SocketNotFoundError(path) => {
            format!("socket {path} does not exist (is dockerd running?)")
        }
        E::HyperResponseError { .. } | E::IOError { .. } => {
            format!("cannot connect to {endpoint}: {e} (is dockerd running, and may this user read the socket?)")
        }
        other => format!("{endpoint}: {other}"),
    }
}

/// True for errors that mean the daemon is gone or unreachable (as opposed to
/// an error about one object).
pub(super) fn is_connection_error(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error as E;
    matches!(
        e,
        E::IOError { .. }
            | E::HyperResponseError { .. }
            | E::HyperLegacyError { .. }
            | E::RequestTimeoutError
            | E::SocketNotFoundError(_)
            | E::HttpClientError { .. }
    )
}
