//! `khien-agent service install|uninstall|start|stop`: the agent as a
//! Windows service, running the loop of `khien-agent run` until the service
//! is stopped. Elsewhere the init system runs `khien-agent run` (systemd,
//! launchd), so the subcommand only says so.
//!
//! The service runs as LocalSystem with its state, configuration and logs
//! in `%ProgramData%\Khien` (`khien_agent::config::default_state_dir`).

use khien_agent::cli::ServiceAction;
use khien_agent::config::Config;
use std::path::Path;
use std::process::ExitCode;

#[cfg(not(windows))]
pub fn command(_action: ServiceAction, _config_path: Option<&Path>, _config: &Config) -> anyhow::Result<ExitCode> {
    let init = if cfg!(target_os = "macos") { "launchd" } else { "systemd" };
    anyhow::bail!("`khien-agent service` manages a Windows service; on this system let {init} run `khien-agent run` instead")
}

#[cfg(windows)]
pub fn command(action: ServiceAction, config_path: Option<&Path>, config: &Config) -> anyhow::Result<ExitCode> {
    windows::command(action, config_path, config)
}

#[cfg(windows)]
mod windows {
    use anyhow::Context as _;
    use khien_agent::cli::ServiceAction;
    use khien_agent::config::Config;
    use std::ffi::OsString;
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;
    use windows_service::service::{
        ServiceAccess, ServiceControl, ServiceControlAccept, ServiceErrorControl, ServiceExitCode, ServiceInfo, ServiceStartType,
        ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult, ServiceStatusHandle};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    /// The `--config` of `service run`, for the service's main function, which
    /// the dispatcher calls without it.
    static CONFIG_PATH: OnceLock<Option<PathBuf>> = OnceLock::new();

    const NAME: &str = "khien-agent";
    const DISPLAY_NAME: &str = "Khiên endpoint agent";
    const DESCRIPTION: &str = "Reads this machine's security facts and reports them to the Khiên collector.";

    pub fn command(action: ServiceAction, config_path: Option<&Path>, config: &Config) -> anyhow::Result<ExitCode> {
        let manager = |access| {
            ServiceManager::local_computer(None::<&str>, access).context("opening the Service Control Manager (run as Administrator)")
        };
        match action {
            ServiceAction::Install => {
                let mut arguments = vec![OsString::from("service"), OsString::from("run")];
                if let Some(p) = config_path {
                    // The service starts in System32: a relative path would mean something else there.
                    arguments.push("--config".into());
                    arguments.push(std::path::absolute(p)?.into());
                }
                let info = ServiceInfo {
                    name: NAME.into(),
                    display_name: DISPLAY_NAME.into(),
                    service_type: ServiceType::OWN_PROCESS,
                    start_type: ServiceStartType::AutoStart,
                    error_control: ServiceErrorControl::Normal,
                    executable_path: std::env::current_exe()?,
                    launch_arguments: arguments,
                    dependencies: Vec::new(),
                    account_name: None,
                    account_password: None,
                };
                let service = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?
                    .create_service(&info, ServiceAccess::CHANGE_CONFIG)
                    .context("creating the service")?;
                service.set_description(DESCRIPTION)?;
                let dir = khien_agent::cli::state_dir(None, config);
                restrict(&dir.path)?;
                println!("Installed the {NAME} service; state and logs in {}.", dir.path.display());
                println!("Enroll (khien-agent enroll --token …) if not done, then: khien-agent service start");
            }
            ServiceAction::Uninstall => {
                let service = manager(ServiceManagerAccess::CONNECT)?
                    .open_service(NAME, ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)
                    .context("opening the service")?;
                if service.query_status()?.current_state != ServiceState::Stopped {
                    service.stop().context("stopping the service")?;
                }
                // Deleted once stopped and every handle to it is closed.
                service.delete().context("removing the service")?;
                println!("Removed the {NAME} service; its state folder is kept.");
            }
            ServiceAction::Start => {
                manager(ServiceManagerAccess::CONNECT)?
                    .open_service(NAME, ServiceAccess::START)
                    .context("opening the service (is it installed?)")?
                    .start::<&str>(&[])
                    .context("starting the service")?;
                println!("Started the {NAME} service.");
            }
            ServiceAction::Stop => {
                manager(ServiceManagerAccess::CONNECT)?
                    .open_service(NAME, ServiceAccess::STOP)
                    .context("opening the service (is it installed?)")?
                    .stop()
                    .context("stopping the service")?;
                println!("Asked the {NAME} service to stop.");
            }
            ServiceAction::Run => {
                let _ = CONFIG_PATH.set(config_path.map(Path::to_path_buf));
                dispatch::start().context("this is started by the Service Control Manager; use `khien-agent service start`")?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// The state folder holds the agent's private keys. Under ProgramData it
    /// would inherit read access for every user, so only SYSTEM and
    /// Administrators keep access (by SID: group names are localised).
    fn restrict(dir: &Path) -> anyhow::Result<()> {
        khien_agent::durable::private_dir(dir)?;
        let icacls = |args: &[&std::ffi::OsStr]| -> anyhow::Result<()> {
            let system = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
            let icacls = Path::new(&system).join(r"System32\icacls.exe");
            let status = std::process::Command::new(icacls)
                .args(args)
                .stdout(std::process::Stdio::null())
                .status()?;
            anyhow::ensure!(status.success(), "icacls {:?} failed with {status}", args);
            Ok(())
        };
        icacls(&[
            dir.as_os_str(),
            "/inheritance:r".as_ref(),
            "/grant:r".as_ref(),
            "*S-1-5-18:(OI)(CI)F".as_ref(),
            "*S-1-5-32-544:(OI)(CI)F".as_ref(),
        ])?;
        // Files written before (an earlier `enroll`) get the folder's entries instead of their own.
        let children = dir.join("*");
        icacls(&[children.as_os_str(), "/reset".as_ref(), "/T".as_ref(), "/C".as_ref(), "/Q".as_ref()])
    }

    #[allow(unsafe_code)] // the dispatcher's entry point, generated by windows-service
    mod dispatch {
        windows_service::define_windows_service!(ffi_service_main, service_main);

        /// Hands this thread to the Service Control Manager until the service stops.
        pub fn start() -> windows_service::Result<()> {
            windows_service::service_dispatcher::start(super::NAME, ffi_service_main)
        }

        fn service_main(_arguments: Vec<std::ffi::OsString>) {
            super::service_main();
        }
    }

    fn service_main() {
        let config_path = CONFIG_PATH.get().cloned().flatten();
        let config = Config::load(config_path.as_deref());
        let dir = khien_agent::cli::state_dir(None, config.as_ref().ok().unwrap_or(&Config::default()));
        // Held to the end, or the last lines of the log are lost.
        let _logs = file_logs(&dir.path.join("logs"));
        if let Err(e) = serve(config) {
            tracing::error!("The service stopped on an error: {e:#}");
        }
    }

    fn serve(config: Result<Config, khien_agent::config::ConfigError>) -> anyhow::Result<()> {
        let stop = Arc::new(tokio::sync::Notify::new());
        let on_stop = stop.clone();
        let status = service_control_handler::register(NAME, move |control| match control {
            ServiceControl::Stop | ServiceControl::Shutdown => {
                // A permit is kept if the loop is not waiting yet.
                on_stop.notify_one();
                ServiceControlHandlerResult::NoError
            }
            ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
            _ => ServiceControlHandlerResult::NotImplemented,
        })?;
        set(
            status,
            ServiceState::Running,
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
            0,
        )?;
        let result = run(config, stop, status);
        if let Err(e) = &result {
            tracing::error!("{e:#}");
        }
        set(
            status,
            ServiceState::Stopped,
            ServiceControlAccept::empty(),
            u32::from(result.is_err()),
        )?;
        result
    }

    fn run(
        config: Result<Config, khien_agent::config::ConfigError>,
        stop: Arc<tokio::sync::Notify>,
        status: ServiceStatusHandle,
    ) -> anyhow::Result<()> {
        let config = config?;
        let dir = khien_agent::cli::state_dir(None, &config);
        tracing::info!(state = %dir.path.display(), "The service is running.");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(khien_agent::run::forever(&config, &dir, async move {
            stop.notified().await;
            // A report in flight may take its timeout to end.
            let _ = set(status, ServiceState::StopPending, ServiceControlAccept::empty(), 0);
        }))?;
        tracing::info!("The service stopped.");
        Ok(())
    }

    fn set(handle: ServiceStatusHandle, state: ServiceState, accept: ServiceControlAccept, error: u32) -> windows_service::Result<()> {
        handle.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: if error == 0 {
                ServiceExitCode::Win32(0)
            } else {
                ServiceExitCode::ServiceSpecific(error)
            },
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        })
    }

    /// A daily file, two weeks kept: a service has no console.
    fn file_logs(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
        use tracing_appender::rolling::{RollingFileAppender, Rotation};
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("khien-agent")
            .filename_suffix("log")
            .max_log_files(14)
            .build(dir)
            .ok()?;
        let (writer, guard) = tracing_appender::non_blocking(appender);
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
            .with_writer(writer)
            .with_ansi(false)
            .try_init();
        Some(guard)
    }
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    #[test]
    fn elsewhere_the_subcommand_points_to_the_init_system() {
        let err = command(ServiceAction::Install, None, &Config::default()).unwrap_err().to_string();
        assert!(err.contains("Windows service"), "{err}");
        assert!(err.contains("khien-agent run"), "{err}");
    }
}
