//! Reusable view pieces. They take data as props and never fetch.

pub mod badges;
pub mod container_table;
pub mod finding;
pub mod nav;
pub mod probe_table;
pub mod status;
pub mod timeline;
pub mod token_screen;
