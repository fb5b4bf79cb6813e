//! Components shared by the pages: the signed-in layout and the design system.

pub mod feedback;
pub mod layout;
pub mod list;
pub mod loader_sets;
pub mod menu_board;
pub mod org_frame;
pub mod ui;
pub mod uploader;
