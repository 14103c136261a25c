//! `SET 'key' = 'value'`: the job options a SQL session carries, under
//! Flink's keys, each checked when set.

use faro_runtime::spec::{CheckpointSpec, Failover, JobMode};

/// The options the next job is planned with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Batch or streaming (`execution.runtime-mode`).
    pub mode: JobMode,
    /// Subtasks of each parallel vertex (`parallelism.default`).
    pub parallelism: u32,
    /// Checkpoints of a streaming job (`execution.checkpointing.*`).
    pub checkpoints: Option<CheckpointSpec>,
    /// The job's name (`pipeline.name`).
    pub name: Option<String>,
    /// Bounded inputs of at most this many rows are broadcast to a join
    /// rather than shuffled with the other side
    /// (`table.optimizer.join.broadcast-threshold`, in rows here).
    pub broadcast_rows: u64,
}

/// Keys `SET` knows, for its error message.
pub const KEYS: &[&str] = &[
    "execution.runtime-mode",
    "parallelism.default",
    "execution.checkpointing.interval",
    "execution.checkpointing.unaligned",
    "pipeline.name",
    "table.optimizer.join.broadcast-threshold",
];

impl Settings {
    /// Defaults: batch, `parallelism` subtasks, no checkpoints.
    pub fn new(parallelism: u32) -> Self {
        Self {
            mode: JobMode::Batch,
            parallelism: parallelism.max(1),
            checkpoints: None,
            name: None,
            broadcast_rows: 10_000,
        }
    }

    /// Applies `SET key = value`; an error says what was wrong.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        match key {
            "execution.runtime-mode" => {
                self.mode = match value.to_lowercase().as_str() {
                    "batch" => JobMode::Batch,
                    "streaming" => JobMode::Streaming,
                    _ => return Err(format!("{key} is 'batch' or 'streaming', not {value:?}")),
                }
            }
            "parallelism.default" => {
                self.parallelism = value
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{key} is a positive number, not {value:?}"))?
            }
            "execution.checkpointing.interval" => {
                let interval_ms = duration_ms(value)
                    .ok_or_else(|| format!("{key} is a duration such as '10 s', not {value:?}"))?;
                let spec = self.checkpoints.get_or_insert(CheckpointSpec {
                    interval_ms,
                    retain: 3,
                    timeout_ms: 60_000,
                    unaligned: false,
                    alignment_timeout_ms: None,
                    failover: Failover::Region,
                });
                spec.interval_ms = interval_ms;
            }
            "execution.checkpointing.unaligned" => {
                let unaligned = match value.to_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("{key} is 'true' or 'false', not {value:?}")),
                };
                match &mut self.checkpoints {
                    Some(spec) => spec.unaligned = unaligned,
                    None => {
                        return Err(format!("set execution.checkpointing.interval before {key}"))
                    }
                }
            }
            "pipeline.name" => self.name = Some(value.to_string()),
            "table.optimizer.join.broadcast-threshold" => {
                self.broadcast_rows = value
                    .parse()
                    .map_err(|_| format!("{key} is a number of rows, not {value:?}"))?
            }
            _ => {
                return Err(format!(
                    "unknown setting {key:?}{}; the settings are {}",
                    crate::error::did_you_mean(key, KEYS.iter().copied()),
                    KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// Milliseconds of `10 s`, `500ms`, `2 min`, `1h` or a plain number of
/// milliseconds.
pub fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit_ms = match unit.trim().to_lowercase().as_str() {
        "" | "ms" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "second" | "seconds" => 1_000,
        "min" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        _ => return None,
    };
    number.checked_mul(unit_ms).filter(|ms| *ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_flink_keys_and_refuses_others() {
        let mut settings = Settings::new(2);
        settings.set("execution.runtime-mode", "streaming").unwrap();
        assert_eq!(settings.mode, JobMode::Streaming);
        settings
            .set("execution.checkpointing.interval", "2 s")
            .unwrap();
        assert_eq!(settings.checkpoints.map(|c| c.interval_ms), Some(2000));
        let error = settings.set("parallelism.defualt", "2").unwrap_err();
        assert!(
            error.contains("did you mean \"parallelism.default\""),
            "{error}"
        );
        assert!(settings.set("parallelism.default", "0").is_err());
        assert_eq!(duration_ms("500ms"), Some(500));
        assert_eq!(duration_ms("1 min"), Some(60_000));
        assert_eq!(duration_ms("soon"), None);
    }
}
