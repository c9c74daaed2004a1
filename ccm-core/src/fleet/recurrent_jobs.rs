//! The fleet's recurrent jobs, as [`Job`] handlers for the [`JobRunner`]: the
//! metrics sweep, lab sync, idle check, event-log retention, lead-time learning
//! and (optional) auto-import.

use std::sync::Arc;

use async_trait::async_trait;

use super::autoscaler::Autoscaler;
use super::idle_pause::IdlePause;
use super::import::Imports;
use super::labs::Labs;
use super::monitor::Monitor;
use super::scheduler::Scheduler;
use super::settings::AutoImportSettings;
use super::{Fleet, ImportMatching, AUTO_IMPORT_JOB, IDLE_JOB, LABS_SYNC_JOB, SWEEP_JOB};
use crate::error::CoreError;
use crate::job::JobSchedule;
use crate::runtime::{Job, JobContext, JobRunner};

struct Sweep(Monitor);
struct LabsSync(Labs);
struct IdleCheck(IdlePause);
struct AutoImport {
    imports: Imports,
    settings: AutoImportSettings,
}
struct Scheduling(Scheduler);
struct Autoscaling(Autoscaler);

#[async_trait]
impl Job for Scheduling {
    async fn run(&self, ctx: &JobContext) -> Result<(), String> {
        let report = self
            .0
            .schedule_pending(ctx.fence.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        if report.due > 0 {
            tracing::info!(
                due = report.due,
                placed = report.placed.len(),
                unplaced = report.unplaced.len(),
                "lablet scheduling"
            );
        }
        Ok(())
    }
}

#[async_trait]
impl Job for Autoscaling {
    async fn run(&self, ctx: &JobContext) -> Result<(), String> {
        self.0
            .autoscale(ctx.fence.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Job for Sweep {
    async fn run(&self, ctx: &JobContext) -> Result<(), String> {
        let report = self
            .0
            .sweep(ctx.fence.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(
            workers = report.workers,
            failures = report.failures.len(),
            "metrics sweep"
        );
        Ok(())
    }
}

#[async_trait]
impl Job for LabsSync {
    async fn run(&self, ctx: &JobContext) -> Result<(), String> {
        self.0
            .sync_all(ctx.fence.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Job for IdleCheck {
    async fn run(&self, ctx: &JobContext) -> Result<(), String> {
        self.0
            .pause_idle_workers(ctx.fence.as_ref())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl Job for AutoImport {
    async fn run(&self, _ctx: &JobContext) -> Result<(), String> {
        let settings = &self.settings;
        let mut errors = Vec::new();
        for region in &settings.regions {
            let input = ImportMatching {
                region: region.clone(),
                image_id: None,
                image_name_pattern: Some(settings.image_name_pattern.clone()),
                tags: Default::default(),
                by: Some("auto-import".into()),
            };
            match self.imports.import_matching(input).await {
                Ok(report) => tracing::info!(
                    %region,
                    imported = report.imported.len(),
                    skipped = report.skipped.len(),
                    "auto-import"
                ),
                Err(error) => errors.push(format!("{region}: {error}")),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

impl Fleet {
    /// Registers the fleet's recurrent jobs on `runner`. The sweep runs at the
    /// shortest monitoring interval in force so per-worker overrides are honoured;
    /// each run only observes the workers that are due.
    pub async fn register_jobs(&self, runner: &mut JobRunner) -> Result<(), CoreError> {
        let settings = &self.context.settings;
        let sweep_every = self.sweep_period().await?;
        runner
            .register(
                SWEEP_JOB,
                JobSchedule::Every {
                    seconds: sweep_every,
                },
                Arc::new(Sweep(self.monitor.clone())),
            )
            .await?;
        runner
            .register(
                super::LOG_RETENTION_JOB,
                JobSchedule::Every {
                    seconds: super::log_retention::LOG_RETENTION_INTERVAL_SECONDS,
                },
                Arc::new(self.log_retention.clone()),
            )
            .await?;
        runner
            .register(
                super::LEAD_LEARNING_JOB,
                JobSchedule::Every {
                    seconds: super::lead_time::LEAD_LEARNING_INTERVAL_SECONDS,
                },
                Arc::new(self.lead_times.clone()),
            )
            .await?;
        runner
            .register(
                LABS_SYNC_JOB,
                JobSchedule::Every {
                    seconds: u64::from(settings.labs_sync_interval_seconds.max(1)),
                },
                Arc::new(LabsSync(self.labs.clone())),
            )
            .await?;
        runner
            .register(
                IDLE_JOB,
                JobSchedule::Every {
                    seconds: u64::from(settings.idle_check_interval_seconds.max(1)),
                },
                Arc::new(IdleCheck(self.idle_pause.clone())),
            )
            .await?;
        runner
            .register(
                super::SCHEDULER_JOB,
                JobSchedule::Every {
                    seconds: u64::from(settings.lablets.scheduler_interval_seconds.max(1)),
                },
                Arc::new(Scheduling(self.scheduler.clone())),
            )
            .await?;
        if settings.autoscaler.enabled {
            runner
                .register(
                    super::AUTOSCALER_JOB,
                    JobSchedule::Every {
                        seconds: u64::from(settings.autoscaler.interval_seconds.max(1)),
                    },
                    Arc::new(Autoscaling(self.autoscaler.clone())),
                )
                .await?;
        }
        if settings.auto_import.enabled {
            runner
                .register(
                    AUTO_IMPORT_JOB,
                    JobSchedule::Every {
                        seconds: u64::from(settings.auto_import.interval_seconds.max(1)),
                    },
                    Arc::new(AutoImport {
                        imports: self.imports.clone(),
                        settings: settings.auto_import.clone(),
                    }),
                )
                .await?;
        }
        Ok(())
    }
}

impl Fleet {
    /// The sweep's period: the shortest monitoring interval in force (the
    /// fleet's, the booting one, or a shorter per-worker one), so each worker is
    /// observed on time while a run observes only the workers that are due.
    pub(crate) async fn sweep_period(&self) -> Result<u64, CoreError> {
        let settings = &self.context.settings;
        let fleet = settings
            .monitoring_interval_seconds
            .min(settings.booting_monitoring_interval_seconds);
        let overrides = self
            .context
            .store
            .list_workers(&Default::default())
            .await?
            .into_iter()
            .filter_map(|w| w.spec.monitoring_interval_seconds)
            .min();
        Ok(u64::from(overrides.map_or(fleet, |o| o.min(fleet)).max(1)))
    }
}
