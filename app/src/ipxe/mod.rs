//! The iPXE renderer: pure functions from a plan of one boot step to the script a client
//! runs. Shared with the browser, so the menu editor previews the exact script.

pub mod check;
pub mod escape;
pub mod menu;
pub mod plan;
pub mod render;
pub mod tokenize;

#[cfg(test)]
mod tests;

pub use plan::*;
pub use render::render;
