//! The Windows service dispatcher's entry point (Windows only).
//!
//! The service control manager starts a service's process, which must
//! hand a thread to `StartServiceCtrlDispatcherW` with a `service_main`
//! callback of the system's calling convention; that callback takes raw
//! UTF-16 arguments, so building it needs `unsafe` (inside
//! `windows_service::define_windows_service!`). It lives here so crates
//! that forbid `unsafe` (the agent) only pass a plain `fn`. Everything
//! else about services (registering the control handler, reporting
//! status, the service manager) is safe API of the `windows-service`
//! crate and stays with the caller.

use std::ffi::OsString;
use std::io;
use std::sync::OnceLock;

/// The plain function the dispatcher's callback runs.
static SERVICE_MAIN: OnceLock<fn(Vec<OsString>)> = OnceLock::new();

windows_service::define_windows_service!(ffi_service_main, call_service_main);

fn call_service_main(arguments: Vec<OsString>) {
    if let Some(service_main) = SERVICE_MAIN.get() {
        service_main(arguments);
    }
}

/// Hands this thread to the service control manager, which runs
/// `service_main` (with the start arguments) on a thread of its own and
/// returns here once the service has reported `Stopped`. Fails with
/// `ERROR_FAILED_SERVICE_CONTROLLER_CONNECT` (1063) when the process was
/// not started by the service control manager, e.g. from a console.
/// Only the first call's `service_main` is ever run.
pub fn dispatch(name: &str, service_main: fn(Vec<OsString>)) -> io::Result<()> {
    let _ = SERVICE_MAIN.set(service_main);
    windows_service::service_dispatcher::start(name, ffi_service_main).map_err(|e| match e {
        windows_service::Error::Winapi(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
    })
}
