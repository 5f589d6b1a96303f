//! Reusable view pieces. They take data as props and never fetch.

pub mod badges;
pub mod container_table;
pub mod copy;
pub mod cors_report;
pub mod data_table;
pub mod finding;
pub mod loaded;
pub mod nav;
pub mod probe_detail;
pub mod proxy_view;
pub mod qr;
pub mod rules_table;
pub mod rules_verdict;
pub mod run_table;
pub mod status;
pub mod timeline;
pub mod timing_bar;
pub mod token_screen;
pub mod verdict;
