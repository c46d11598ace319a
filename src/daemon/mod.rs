//! `ocapd`: the service shell around the kernel (DESIGN.md "How ocapd starts/stops").
//!
//! [`run`] is the whole life of the daemon: take the socket (inherited or bound), lock and open
//! the database, start the kernel thread, announce readiness, serve until a signal, `shutdown`
//! or idle timeout, drain in-flight requests, close the database, exit 0.

mod budget;
mod cap_socket;
mod check_config;
mod config;
mod connection;
mod detach;
mod folders;
#[cfg(target_os = "macos")]
mod launchd;
mod listen;
mod logging;
mod manual;
mod methods;
mod notify;
mod options;
mod pid_file;
#[cfg(feature = "remote")]
pub mod relay;
mod server;
mod settings;
mod shared;
mod signals;
mod slots;
mod surface;
mod throttle;

pub use listen::Activation;
use listen::Inherited;
pub use manual::MANUAL;
pub use options::{Options, RelayArgs, Subcommand};

use crate::lockfile::DatabaseLock;
use detach::ReadyPipe;
use logging::LogControl;
use serde_json::json;
use server::Stopped;
use settings::Settings;
use shared::Shared;
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Runs the daemon to completion and returns its exit status. Must be called before any other
/// thread exists: it reads the activation environment and may fork.
pub fn run(options: Options) -> u8 {
    if options.check_config {
        return check_config::run(&options);
    }
    share_malloc_arenas();
    let started = Instant::now();
    let mut settings = match Settings::load(&options) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("ocapd: {e}");
            return check_config::EXIT_CONFIG;
        }
    };
    let inherited = match listen::inherited() {
        Ok(inherited) => inherited,
        Err(e) => {
            eprintln!("ocapd: {e}");
            return 1;
        }
    };
    let mut ready = ReadyPipe::none();
    if inherited.is_none() && !settings.foreground {
        absolutize(&mut settings);
        settings
            .log_file
            .get_or_insert_with(|| settings.paths.log.clone());
        ready = match detach::detach() {
            Ok(pipe) => pipe,
            Err(e) => {
                eprintln!("ocapd: cannot detach: {e}");
                return 1;
            }
        };
    }
    match start(&options, settings, inherited, &mut ready, started) {
        Ok(()) => 0,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("ocapd: {message}");
            ready.failed(&message);
            1
        }
    }
}

/// A detached daemon changes nothing about its working directory, but its paths must not
/// depend on it: `ocapctl` and the logs name them.
fn absolutize(settings: &mut Settings) {
    let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    settings.paths.socket = abs(&settings.paths.socket);
    settings.paths.database = abs(&settings.paths.database);
    settings.paths.log = abs(&settings.paths.log);
    settings.cap_socket = settings.cap_socket.as_deref().map(abs);
    settings.log_file = settings.log_file.as_deref().map(abs);
}

/// Everything after the process layout is settled (foreground or detached child).
fn start(
    options: &Options,
    mut settings: Settings,
    inherited: Option<Inherited>,
    ready: &mut ReadyPipe,
    started: Instant,
) -> Result<(), String> {
    folders::no_stranded_kernel(&settings.paths)?;
    folders::secure(&mut settings, inherited.is_none())?;
    let log = logging::init(
        &settings.log_level,
        settings.log_file.as_deref(),
        settings.max_log_bytes,
    )?;
    let paths = settings.paths.clone();
    let mut lock =
        DatabaseLock::acquire(&paths.lock(), &paths.database).map_err(|e| e.to_string())?;
    crate::kernel::store::create(&paths.database).map_err(|e| e.to_string())?;
    lock.hold_database(&paths.database)
        .map_err(|e| e.to_string())?;
    // A daemon that binds its own socket writes daemon.pid before the socket listens; the
    // guard removes it when start returns, however it returns.
    let mut pid_file = None;
    let (listener, activation, inherited_caps) = match inherited {
        Some(inherited) => (inherited.control, inherited.activation, inherited.caps),
        None => {
            let path = paths.pid_file();
            pid_file = Some(
                pid_file::PidFile::write(&path).map_err(|e| format!("{}: {e}", path.display()))?,
            );
            (
                listen::bind(&paths).map_err(|e| e.to_string())?,
                Activation::SelfBound,
                None,
            )
        }
    };
    // A socket the service manager passed wins over --cap-socket, as for the control socket.
    let bound_caps = match (&inherited_caps, &settings.cap_socket) {
        (None, Some(path)) => Some(cap_socket::bind(path).map_err(|e| e.to_string())?),
        _ => None,
    };
    // Only a socket ocapd bound is ocapd's to remove.
    let self_bound_caps = bound_caps.as_ref().and(settings.cap_socket.clone());
    let caps = inherited_caps.or(bound_caps);
    let caps_path = caps.as_ref().and_then(listen::local_path);
    // An inherited socket's path is whatever the unit says, not what we would have chosen.
    let socket = listen::local_path(&listener).unwrap_or_else(|| paths.socket.clone());
    let conn = crate::kernel::store::open(&paths.database)
        .map_err(|e| format!("{}: {e}", paths.database.display()))?;
    let (kernel, kernel_thread) = crate::kernel::start_with(
        conn,
        &paths.database,
        Box::new(crate::vat::DefaultFactory {
            allowed_global_names: settings.allowed_global_names.clone(),
            ..Default::default()
        }),
        settings.kernel,
        settings.remote.clone(),
    )
    .map_err(|e| e.to_string())?;
    // One async thread: measured faster than a 2-worker pool here (52 vs 135 µs per getStatus,
    // 40k vs 30k/s with 8 clients); the kernel and slow queries run on their own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let info = json!({
        "pid": std::process::id(),
        "version": env!("CARGO_PKG_VERSION"),
        "activation": activation.name(),
        "socket": socket,
        "database": paths.database,
        "lockFile": lock.path(),
        "capSocket": caps_path,
    });
    let daemon = Daemon {
        options: options.clone(),
        settings,
        log,
        status: format!("serving {} ({})", socket.display(), activation.name()),
        started,
    };
    let served = runtime.block_on(daemon.serve(listener, caps, kernel, info, ready));
    drop(runtime);
    kernel_thread
        .join()
        .map_err(|e| format!("closing the database: {e}"))?;
    if activation == Activation::SelfBound {
        let _ = std::fs::remove_file(&paths.socket);
    }
    if let Some(path) = self_bound_caps {
        let _ = std::fs::remove_file(path);
    }
    drop(pid_file);
    drop(lock);
    tracing::info!("stopped");
    served
}

/// Runs SQLite's check of the database beside the serving daemon (it reads every page, so it
/// would make start-up as slow as the file is large), and says so loudly, in the log and in the
/// service manager's status line, when the file is damaged.
///
/// A damaged database is served, not refused: a statement that meets a damaged page fails and
/// its crank rolls back, while refusing would take away what the owner needs to rescue the
/// rest (`ocapctl backup`, `executeDBQuery`, terminating the vat whose pages are hit), and a
/// refusing daemon under `Restart=on-failure` only turns every connection into a reset.
fn check_database(database: std::path::PathBuf, status: String) {
    let spawned = std::thread::Builder::new()
        .name("integrity".into())
        .spawn(
            move || match crate::kernel::store::quick_check(&database, 10) {
                Ok(problems) if problems.is_empty() => {
                    tracing::info!("database integrity check: ok");
                }
                Ok(problems) => {
                    let summary = format!(
                        "DATABASE DAMAGED: {} fails SQLite's integrity check ({}); serving what is \
                     readable; take a backup (ocapctl backup) and see ocapctl fsck",
                        database.display(),
                        problems.join("; ")
                    );
                    tracing::error!("{summary}");
                    notify::status(&format!("{status}; {summary}"));
                }
                Err(e) => tracing::warn!("could not check the database's integrity: {e}"),
            },
        );
    if let Err(e) = spawned {
        tracing::warn!("could not start the database integrity check: {e}");
    }
}

/// The parts of a running daemon that outlive start-up.
struct Daemon {
    options: Options,
    settings: Settings,
    log: LogControl,
    status: String,
    started: Instant,
}

impl Daemon {
    async fn serve(
        self,
        listener: UnixListener,
        caps: Option<UnixListener>,
        kernel: crate::kernel::KernelHandle,
        info: serde_json::Value,
        ready: &mut ReadyPipe,
    ) -> Result<(), String> {
        let listener = tokio::net::UnixListener::from_std(listener).map_err(|e| e.to_string())?;
        let caps = caps
            .map(tokio::net::UnixListener::from_std)
            .transpose()
            .map_err(|e| e.to_string())?;
        let stop = CancellationToken::new();
        let (limits_tx, limits) = watch::channel(self.settings.limits);
        let signals =
            signals::register().map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let shared = Arc::new(Shared::new(kernel.clone(), limits, info, stop.clone()));
        let kernel_for_stop = kernel.clone();
        let tracker = TaskTracker::new();
        if let Some(interval) = notify::watchdog_interval() {
            tokio::spawn(notify::watchdog(interval, kernel, stop.clone()));
        }
        let drain = self.settings.drain_timeout;
        let idle = self.settings.idle_timeout;
        let status = self.status.clone();
        let started = self.started;
        let database = self.settings.paths.database.clone();
        tokio::spawn(signals::handle(signals, stop.clone(), move || {
            self.reload(&limits_tx)
        }));
        notify::ready(&status);
        ready.ready(&status);
        tracing::info!("{status}; ready in {:?}", started.elapsed());
        check_database(database, status.clone());

        let why = server::accept_loop(
            &listener,
            caps.as_ref(),
            Arc::clone(&shared),
            &tracker,
            idle,
        )
        .await;
        drop(listener);
        drop(caps);
        notify::stopping();
        tracing::info!(
            "{}; draining for at most {drain:?}",
            if why == Stopped::Idle {
                "idle timeout"
            } else {
                "stopping"
            }
        );
        stop.cancel();
        if let Err(e) = kernel_for_stop.abandon_waiters().await {
            tracing::warn!("could not release waiting callers: {e}");
        }
        tracker.close();
        if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
            tracing::warn!(
                "{} request(s) still running after {drain:?}; stopping anyway",
                tracker.len()
            );
        }
        Ok(())
    }

    /// SIGHUP: re-read the config file; apply the log filter and limits.
    fn reload(&self, limits: &watch::Sender<settings::Limits>) {
        notify::reloading();
        match self.settings.reload(&self.options) {
            Ok(fresh) => {
                if let Err(e) = self.log.set_filter(&fresh.log_level) {
                    tracing::warn!("reload: {e}");
                }
                limits.send_replace(fresh.limits);
                tracing::info!("configuration reloaded");
            }
            Err(e) => tracing::warn!("reload failed, keeping the current configuration: {e}"),
        }
        notify::ready("reloaded");
    }
}

/// Each vat's runtime allocates on a thread of its own, and glibc would give each such thread a
/// malloc arena of its own (about 1 MiB more per started vat). Vats run one at a time, so two
/// arenas shared by every thread cost no contention and keep a vat at about 5 MiB.
fn share_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
