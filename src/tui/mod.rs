//! The console: a ratatui TUI over the same engine as `serve`.

pub mod app;
pub mod editor;
pub mod fire;
pub mod keys;
pub mod run;
pub mod theme;
pub mod view;
