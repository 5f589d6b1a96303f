//! One module per route; each page owns its resources and refetches on live events.

pub mod container;
pub mod containers;
pub mod firewall;
pub mod gpu;
pub mod networks;
pub mod not_found;
pub mod overview;
pub mod phone;
pub mod reach;

use std::future::{Future, IntoFuture};

use leptos::prelude::*;
use leptos::reactive::computed::ScopedFuture;

use crate::api::ApiError;

/// A page resource that refetches on every live event, plus de-duplicated views of
/// its answer.
///
/// Why not just `.await` the resource inside `<Transition>`: when a `Suspend` resolves
/// again, Leptos 0.8 rebuilds every reactive closure and `<For>` below it from scratch,
/// so each refresh (every ~2 s on a busy host) would replace the DOM: keyboard focus,
/// open `<details>`, open `<select>`s and selections would be lost. Instead the
/// `Suspend` waits for the first answer and re-runs only when the outcome flips
/// between success and error ([`Live::ready`]); the data reaches the views through
/// signals, and keyed `<For>`s update only the rows that changed.
pub struct Live<T: Send + Sync + 'static> {
    resource: LocalResource<Result<T, ApiError>>,
    latest: Memo<Option<Result<T, ApiError>>>,
    outcome: Memo<Option<Result<(), ApiError>>>,
}

impl<T: Send + Sync + 'static> Clone for Live<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Live<T> {}

impl<T: Clone + PartialEq + Send + Sync + 'static> Live<T> {
    pub fn new<Fut>(fetch: impl Fn() -> Fut + 'static) -> Self
    where
        Fut: Future<Output = Result<T, ApiError>> + 'static,
    {
        let resource = LocalResource::new(fetch);
        // Memos compare with the previous answer: an identical refetch notifies nobody.
        let latest = Memo::new(move |_| resource.get());
        let outcome = Memo::new(move |_| {
            latest.with(|r| {
                r.as_ref()
                    .map(|r| r.as_ref().map(|_| ()).map_err(Clone::clone))
            })
        });
        Self {
            resource,
            latest,
            outcome,
        }
    }

    /// For a `Suspend`: waits for the first answer, and subscribes only to the
    /// outcome (success or which error), not to the data.
    pub async fn ready(self) -> Result<(), ApiError> {
        // Read, not just `track()`: a memo that is never read never computes, so it
        // would never subscribe to the resource and never notify us.
        self.outcome.with(|_| ());
        self.first().await.map(|_| ())
    }

    /// For a `Suspend` whose view is cheap to rebuild: the answer, re-running the
    /// caller only when it really changed.
    pub async fn changed(self) -> Result<T, ApiError> {
        self.latest.with(|_| ());
        self.first().await
    }

    /// Loading (`None`), success or which error: notifies only when that changes.
    pub fn outcome(self) -> Memo<Option<Result<(), ApiError>>> {
        self.outcome
    }

    /// The latest successful answer.
    pub fn data(self) -> Signal<Option<T>> {
        Signal::derive(move || self.latest.get().and_then(Result::ok))
    }

    /// A part of the latest successful answer that notifies only when it changes.
    pub fn select<U: Clone + PartialEq + Send + Sync + 'static>(
        self,
        f: impl Fn(&T) -> U + Send + Sync + 'static,
    ) -> Memo<Option<U>> {
        Memo::new(move |_| {
            self.latest
                .with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(&f))
        })
    }

    /// The current answer once loaded, without subscribing the caller to it.
    fn first(self) -> impl Future<Output = Result<T, ApiError>> {
        ScopedFuture::new_untracked(self.resource.into_future())
    }
}
