//! The task as an actix actor: started on a slot's arbiter, it runs the
//! task's loop as a future in its own context, reports the outcome once,
//! and stops. Sending it [`Cancel`] stops it at once, dropping the loop
//! (and with it the task's channels, so neighbours see the task gone).
//!
//! A panic in the task's loop is caught and reported as the task's
//! failure: one task's fault never takes its slot (and the other tasks
//! on it) or its worker down.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context as Poll, Poll as Polled};

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture,
};
use tokio::sync::oneshot;

use super::{TaskReport, TaskRun};
use crate::failure::TaskFailure;

/// What a task ends with: its report, or why it failed.
pub type TaskOutcome = Result<TaskReport, TaskFailure>;

/// A future whose panic becomes an error.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future<Output = TaskOutcome>> Future for CatchPanic<F> {
    type Output = TaskOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Poll<'_>) -> Polled<TaskOutcome> {
        let inner = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(polled) => polled,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                Polled::Ready(Err(TaskFailure::transient(format!(
                    "internal error (panic): {what}"
                ))))
            }
        }
    }
}

/// One running task.
pub struct TaskActor {
    run: Option<TaskRun>,
    done: Option<oneshot::Sender<TaskOutcome>>,
}

impl TaskActor {
    /// An actor that will run `run` and send its outcome to `done`.
    pub fn new(run: TaskRun, done: oneshot::Sender<TaskOutcome>) -> Self {
        Self {
            run: Some(run),
            done: Some(done),
        }
    }
}

impl Actor for TaskActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let Some(run) = self.run.take() else {
            ctx.stop();
            return;
        };
        let work = CatchPanic(Box::pin(async move {
            run.run().await.map_err(TaskFailure::from)
        }))
        .into_actor(self)
        .map(move |result, actor, ctx| {
            if let Some(done) = actor.done.take() {
                let _ = done.send(result);
            }
            ctx.stop();
        });
        ctx.spawn(work);
    }
}

/// Stops a task now.
pub struct Cancel;

impl Message for Cancel {
    type Result = ();
}

impl Handler<Cancel> for TaskActor {
    type Result = ();

    fn handle(&mut self, _: Cancel, ctx: &mut Self::Context) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Err(TaskFailure::cancelled()));
        }
        ctx.stop();
    }
}
