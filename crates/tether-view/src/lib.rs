//! The technician's remote view.
//!
//! - [`stream`]: the controller's side of the view stream (sans window):
//!   decodes screen updates into the newest [`stream::Screen`], sends
//!   acknowledgements, heartbeats and input. Tests and benchmarks use it
//!   directly.
//! - [`window`]: the native window (minifb) that shows it and, in control
//!   mode, turns mouse and keyboard into input events.
//! - [`input`]: the pure difference from window state to input events,
//!   focus loss included.
//! - [`scale`]: the pure fitting of the image into the window and back.

pub mod input;
pub mod scale;
pub mod stream;
pub mod window;

pub use scale::ScaleMode;
pub use stream::{ViewError, ViewState};
