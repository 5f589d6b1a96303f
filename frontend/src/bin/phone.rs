//! Entry point of the phone bundle (`phone.html`, served for `/p/<code>`): only the phone
//! link's page, so a phone on LTE downloads the probe engine and that page, not the whole
//! dashboard (the rules engine, charts and admin pages stay out through link-time dead-code
//! elimination).

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(vantage_frontend::PhoneApp);
}
