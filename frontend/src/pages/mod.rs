//! One module per route; each page owns its resources and refetches on live events.

pub mod container;
pub mod container_life;
pub mod containers;
pub mod cors;
pub mod firewall;
pub mod fleet;
pub mod gpu;
pub mod networks;
pub mod not_found;
pub mod notifications;
pub mod overview;
pub mod phone;
pub mod reach;

use std::future::Future;

use leptos::prelude::*;

use crate::api::ApiError;

/// A page resource that refetches on every live event, plus de-duplicated views of
/// its answer.
///
/// Why not `.await` the resource inside `<Transition>`: when a `Suspend` resolves
/// again, Leptos 0.8 rebuilds every reactive closure and `<For>` below it from scratch,
/// so each refresh (every ~2 s on a busy host) would replace the DOM: keyboard focus,
/// open `<details>`, open `<select>`s and selections would be lost. Instead a page
/// draws its body through [`Loaded`](crate::components::loaded::Loaded), which rebuilds
/// only when [`Live::outcome`] flips between loading, success and error; the data
/// reaches the views through signals, and keyed `<For>`s update only the rows that
/// changed.
pub struct Live<T: Send + Sync + 'static> {
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
        Self { latest, outcome }
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
}
