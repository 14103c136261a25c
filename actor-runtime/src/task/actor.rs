//! The task as an actix actor: started on a slot's arbiter, it runs the
//! task's loop as a future in its own context, reports the outcome once,
//! and stops. Sending it [`Cancel`] stops it at once, dropping the loop
//! (and with it the task's channels, so neighbours see the task gone).

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, Message, WrapFuture,
};
use tokio::sync::oneshot;

use super::{TaskReport, TaskRun};

/// The error of a task stopped by [`Cancel`].
pub const CANCELLED: &str = "cancelled";

/// What a task ends with: its report, or why it failed.
pub type TaskOutcome = Result<TaskReport, String>;

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
        let work =
            async move { run.run().await }
                .into_actor(self)
                .map(move |result, actor, ctx| {
                    if let Some(done) = actor.done.take() {
                        let _ = done.send(result.map_err(|e| e.to_string()));
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
            let _ = done.send(Err(CANCELLED.into()));
        }
        ctx.stop();
    }
}
