//! The technician's remote view.
//!
//! - [`stream`]: the controller's side of the view stream (sans window):
//!   decodes screen updates into the newest [`stream::Screen`], sends
//!   acknowledgements, heartbeats and input. Tests and benchmarks use it
//!   directly.
//! - [`window`]: the native window (winit + softbuffer) that shows it and,
//!   in control mode, forwards every mouse and keyboard event as it comes.
//! - [`input`]: the pure translation of window events into input events:
//!   key mapping, local auto-repeat dropped, Ctrl+Alt+End, focus loss.
//! - [`scale`]: the pure fitting of the image into the window and back,
//!   and panning a 1:1 view larger than the window.

#![forbid(unsafe_code)]

pub mod input;
pub mod scale;
pub mod stream;
pub mod window;

pub use scale::ScaleMode;
pub use stream::{ViewError, ViewState};
