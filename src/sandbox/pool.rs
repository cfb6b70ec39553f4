//! Workers bootstrapped ahead of demand. Permissions are fixed for the server's lifetime, so a
//! worker can be built before its job is known; each one runs exactly one execution and its
//! thread then ends (fresh state per execution stays a guarantee). Taking a worker spawns its
//! replacement; when the pool is empty a call simply gets a worker that is still starting.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::SandboxConfig;
use super::control::Control;
use super::execution::{self, Job};

/// Engine code plus deep user recursion needs more than Rust's 2 MiB default.
const WORKER_STACK: usize = 16 << 20;

/// A worker thread waiting for (or still bootstrapping before) its one job.
pub struct Warm {
    pub control: Arc<Control>,
    jobs: oneshot::Sender<Job>,
}

impl Warm {
    fn spawn(config: &Arc<SandboxConfig>, stuck: &Arc<AtomicUsize>) -> std::io::Result<Warm> {
        let control = Arc::new(Control::new(stuck.clone()));
        let (jobs, receiver) = oneshot::channel();
        let (config, thread_control) = (config.clone(), control.clone());
        std::thread::Builder::new()
            .name("deno-execution".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                // A panic outside the job (bootstrap) drops the job's reply: the caller reports it.
                if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    execution::thread_main(config, thread_control.clone(), receiver)
                })) {
                    tracing::error!("{}", execution::panic_message(&*panic));
                }
                thread_control.thread_ended();
            })?;
        Ok(Warm { control, jobs })
    }

    /// Hands the job over; gives it back if the thread is gone.
    pub fn start(self, job: Job) -> Result<(), Job> {
        self.jobs.send(job)
    }
}

pub struct Pool {
    config: Arc<SandboxConfig>,
    size: usize,
    idle: Mutex<VecDeque<Warm>>,
    /// Abandoned execution threads that have not ended yet (`MCP_CONDUCTOR_MAX_ABANDONED`).
    pub stuck: Arc<AtomicUsize>,
}

impl Pool {
    pub fn new(config: Arc<SandboxConfig>, size: usize) -> Pool {
        let pool = Pool { config, size, idle: Mutex::new(VecDeque::with_capacity(size)), stuck: Arc::default() };
        pool.refill();
        pool
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The oldest warm worker (the most likely to be ready), or a new one.
    pub fn take(&self) -> std::io::Result<Warm> {
        let taken = self.lock().pop_front();
        self.refill();
        match taken {
            Some(warm) => Ok(warm),
            None => Warm::spawn(&self.config, &self.stuck),
        }
    }

    fn refill(&self) {
        let mut idle = self.lock();
        while idle.len() < self.size {
            match Warm::spawn(&self.config, &self.stuck) {
                Ok(warm) => idle.push_back(warm),
                Err(e) => {
                    tracing::warn!("cannot pre-start a worker: {e}");
                    break;
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Warm>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}
