//! Components shared by the pages: the signed-in layout and the design system.

pub mod layout;
pub mod ui;
