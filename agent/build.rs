//! Rebuilds the agent when the dashboard bundle in `dist/` changes: Trunk writes
//! new hashed file names, which rust-embed alone would not notice.

fn main() {
    println!("cargo:rerun-if-changed=../dist");
}
