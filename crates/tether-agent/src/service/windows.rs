//! The service on Windows: install and uninstall through the service
//! control manager, and `run`, which hands the process to the service
//! dispatcher (tether-os holds its system callback) and serves until a
//! Stop or Shutdown control arrives.

use std::ffi::OsString;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};
use windows_service::service::{
    ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use super::{
    LOG_LIMIT, Launch, RotatingLog, ServiceError, check_name, display_name, launch_arguments,
};
use crate::agent::Agent;
use crate::config::AgentConfig;
use crate::error::AgentError;

const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
const ERROR_SERVICE_NOT_ACTIVE: i32 = 1062;
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
const ERROR_SERVICE_MARKED_FOR_DELETE: i32 = 1072;
const ERROR_SERVICE_EXISTS: i32 = 1073;

/// How long `uninstall` waits for a running service to stop: the agent's
/// own shutdown waits at most a few seconds for sessions to record their end.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// The service-specific exit code when the agent failed (its log says why).
pub const EXIT_AGENT_FAILED: u32 = 1;
/// The service-specific exit code when the log file could not be opened.
pub const EXIT_NO_LOG: u32 = 2;

const DESCRIPTION: &str =
    "Answers authorised Tether technicians over QUIC with mutual TLS (tether-agent).";

/// Registers an auto-start service running as LocalSystem whose command
/// line is this executable with [`launch_arguments`]. The caller has
/// made the paths absolute and checked the configuration.
pub fn install(launch: &Launch) -> Result<(), ServiceError> {
    const ACTION: &str = "installing the service";
    check_name(&launch.name)?;
    let executable = std::env::current_exe()
        .map_err(|source| ServiceError::Os { what: "cannot find this program's path", source })?;
    super::check_install_paths(&executable, &launch.config)?;
    let manager = ServiceManager::local_computer(
        None::<&str>,
        ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE,
    )
    .map_err(|e| classify(e, ACTION, &launch.name))?;
    let info = ServiceInfo {
        name: launch.name.clone().into(),
        display_name: display_name(&launch.name).into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: executable,
        launch_arguments: launch_arguments(launch),
        dependencies: Vec::new(),
        // None: LocalSystem, which the agent needs to read every process,
        // inject input and take restore points.
        account_name: None,
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG)
        .map_err(|e| classify(e, ACTION, &launch.name))?;
    // The description is cosmetic (the Services console): not worth
    // failing an installed service over.
    let _ = service.set_description(DESCRIPTION);
    Ok(())
}

/// Stops the service if it runs (waiting up to [`STOP_WAIT`]) and removes
/// it. Returns whether it was running.
pub fn uninstall(name: &str) -> Result<bool, ServiceError> {
    const ACTION: &str = "removing the service";
    check_name(name)?;
    let manager = ServiceManager::local_computer(None::<&str>, ServiceManagerAccess::CONNECT)
        .map_err(|e| classify(e, ACTION, name))?;
    let service = manager
        .open_service(
            name,
            ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE,
        )
        .map_err(|e| classify(e, ACTION, name))?;
    let state = |service: &windows_service::service::Service| {
        service.query_status().map(|s| s.current_state).map_err(|e| classify(e, ACTION, name))
    };
    let was_running = state(&service)? != ServiceState::Stopped;
    if was_running {
        match service.stop() {
            Ok(_) => {}
            Err(windows_service::Error::Winapi(e))
                if e.raw_os_error() == Some(ERROR_SERVICE_NOT_ACTIVE) => {}
            Err(e) => return Err(classify(e, "stopping the service", name)),
        }
        let deadline = Instant::now() + STOP_WAIT;
        while state(&service)? != ServiceState::Stopped {
            if Instant::now() > deadline {
                return Err(ServiceError::StopTimeout(name.to_owned(), STOP_WAIT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    service.delete().map_err(|e| classify(e, ACTION, name))?;
    Ok(was_running)
}

/// What the service's thread reads: set once by [`run`] before the
/// dispatcher starts, since the system callback takes no context.
static LAUNCH: OnceLock<Launch> = OnceLock::new();
/// The exit code the service reported, for [`run`] to return.
static EXIT: Mutex<u32> = Mutex::new(0);

/// Hands this process to the service dispatcher and returns once the
/// service has stopped, with the exit code it reported (0: stopped
/// cleanly; [`EXIT_AGENT_FAILED`]; [`EXIT_NO_LOG`]).
pub fn run(launch: Launch) -> Result<u32, ServiceError> {
    check_name(&launch.name)?;
    let name = launch.name.clone();
    let _ = LAUNCH.set(launch);
    tether_os::service::dispatch(&name, service_main).map_err(|e| {
        if e.raw_os_error() == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
            ServiceError::NotUnderScm
        } else {
            ServiceError::Os { what: "cannot start the service dispatcher", source: e }
        }
    })?;
    Ok(*EXIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// The service's thread: logging, the control handler, the agent.
fn service_main(_arguments: Vec<OsString>) {
    let Some(launch) = LAUNCH.get() else { return };
    let logging = init_logging(launch);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let handler = move |control| {
        let what = match control {
            ServiceControl::Stop => "stop",
            ServiceControl::Preshutdown => "system shutdown (preshutdown)",
            ServiceControl::Shutdown => "system shutdown",
            ServiceControl::Interrogate => return ServiceControlHandlerResult::NoError,
            _ => return ServiceControlHandlerResult::NotImplemented,
        };
        info!("service control: {what}");
        let _ = stop_tx.send(true);
        ServiceControlHandlerResult::NoError
    };
    let status = match service_control_handler::register(&launch.name, handler) {
        Ok(status) => status,
        Err(e) => {
            error!("cannot register the service control handler: {e}");
            return;
        }
    };
    let exit = match logging {
        // Nowhere to write why; the exit code says which failure.
        Err(_) => EXIT_NO_LOG,
        Ok(()) => {
            report(status, ServiceState::StartPending, ServiceExitCode::Win32(0));
            match serve(launch, stop_rx, status) {
                Ok(()) => 0,
                Err(e) => {
                    error!("{}", tether_proto::text::error_line(&e));
                    EXIT_AGENT_FAILED
                }
            }
        }
    };
    *EXIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = exit;
    let code =
        if exit == 0 { ServiceExitCode::Win32(0) } else { ServiceExitCode::ServiceSpecific(exit) };
    report(status, ServiceState::Stopped, code);
}

/// Tracing to the log file: the service's stderr goes nowhere.
fn init_logging(launch: &Launch) -> std::io::Result<()> {
    let log = RotatingLog::open(&launch.log_file, LOG_LIMIT)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(log))
        .with_ansi(false)
        .try_init();
    info!(
        "tether-agent {} starting as service {} (config {})",
        env!("CARGO_PKG_VERSION"),
        launch.name,
        launch.config.display()
    );
    Ok(())
}

/// The agent as `tether-agent run` serves it, with the service's Stop and
/// Shutdown controls as its shutdown future instead of SIGTERM/Ctrl+C.
fn serve(
    launch: &Launch,
    mut stop: tokio::sync::watch::Receiver<bool>,
    status: ServiceStatusHandle,
) -> Result<(), AgentError> {
    let config = AgentConfig::load(&launch.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tether-agent")
        .build()
        .map_err(|e| AgentError::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let agent = Agent::open(config)?;
        report(status, ServiceState::Running, ServiceExitCode::Win32(0));
        let shutdown = async move {
            // An error means the handler (the sender) is gone: stop too.
            let _ = stop.wait_for(|stopped| *stopped).await;
            report(status, ServiceState::StopPending, ServiceExitCode::Win32(0));
        };
        agent.run(shutdown).await
    })?;
    // Blocking audit writes may still be finishing; they hold no locks we need.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// Tells the service control manager the service's state; a failure is
/// only logged (the agent serves on either way).
fn report(status: ServiceStatusHandle, state: ServiceState, exit_code: ServiceExitCode) {
    // Shutdown alone leaves a service about 5 s on current Windows
    // (WaitToKillServiceTimeout), no more than the agent's own grace for
    // sessions (server::SHUTDOWN_GRACE); Preshutdown comes first and waits
    // up to the service's PreshutdownTimeout, so the stop gets recorded.
    let controls_accepted = match state {
        ServiceState::Running => {
            ServiceControlAccept::STOP
                | ServiceControlAccept::PRESHUTDOWN
                | ServiceControlAccept::SHUTDOWN
        }
        _ => ServiceControlAccept::empty(),
    };
    let wait_hint = match state {
        ServiceState::StartPending | ServiceState::StopPending => Duration::from_secs(30),
        _ => Duration::ZERO,
    };
    let result = status.set_service_status(ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted,
        exit_code,
        checkpoint: 0,
        wait_hint,
        process_id: None,
    });
    if let Err(e) = result {
        warn!("cannot report the service state {state:?}: {e}");
    }
}

/// The system's error as one actionable line where it has a usual cause.
fn classify(e: windows_service::Error, action: &'static str, name: &str) -> ServiceError {
    let windows_service::Error::Winapi(source) = e else {
        return ServiceError::Os {
            what: action,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()),
        };
    };
    match source.raw_os_error() {
        Some(ERROR_ACCESS_DENIED) => ServiceError::NeedsAdmin(action),
        Some(ERROR_SERVICE_EXISTS) => ServiceError::Exists(name.to_owned()),
        Some(ERROR_SERVICE_DOES_NOT_EXIST) => ServiceError::Missing(name.to_owned()),
        Some(ERROR_SERVICE_MARKED_FOR_DELETE) => ServiceError::MarkedForDeletion(name.to_owned()),
        _ => ServiceError::Os { what: action, source },
    }
}
