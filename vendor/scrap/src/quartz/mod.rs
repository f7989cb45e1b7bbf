mod capturer;
mod config;
mod display;
mod ffi;
mod frame;

pub use self::capturer::Capturer;
pub use self::config::Config;
pub use self::display::Display;
pub use self::ffi::{CGError, PixelFormat};
pub use self::frame::Frame;
