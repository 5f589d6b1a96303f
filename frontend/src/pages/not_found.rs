//! The fallback route.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::components::status::Empty;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <Empty title="There is no page at this address.">
            <p>
                "Go to the " <A href="/">"overview"</A> " or the " <A href="/containers">"containers"</A>
                "."
            </p>
        </Empty>
    }
}
