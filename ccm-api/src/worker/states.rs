//! The enumerations of a worker: lifecycle, desired status, EC2 state, pause and
//! resume reasons, CML service and licence states, alerts. Each maps from its
//! domain enum by an exhaustive `match`, so a new domain variant breaks the build
//! here before it reaches the wire.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use ccm_core::ports::cloud::InstanceState as CoreInstanceState;
use ccm_core::worker as core;

/// Where a worker's EC2 instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleState {
    /// Record exists, no instance launched yet.
    Pending,
    /// EC2 `pending`: the instance is booting.
    Provisioning,
    /// EC2 `running`.
    Running,
    /// EC2 `stopping`.
    Stopping,
    /// EC2 `stopped`.
    Stopped,
    /// EC2 `shutting-down`: terminating.
    ShuttingDown,
    /// EC2 `terminated`: gone for good.
    Terminated,
    /// The launch or an operation failed; the controller may retry.
    Failed,
    /// The instance could not be observed.
    Unknown,
}

impl From<core::LifecycleState> for LifecycleState {
    fn from(s: core::LifecycleState) -> Self {
        use core::LifecycleState as C;
        match s {
            C::Pending => Self::Pending,
            C::Provisioning => Self::Provisioning,
            C::Running => Self::Running,
            C::Stopping => Self::Stopping,
            C::Stopped => Self::Stopped,
            C::ShuttingDown => Self::ShuttingDown,
            C::Terminated => Self::Terminated,
            C::Failed => Self::Failed,
            C::Unknown => Self::Unknown,
        }
    }
}

/// What the operator wants the instance to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum DesiredStatus {
    /// Keep the instance running.
    Running,
    /// Keep the instance stopped (EBS kept, compute not billed).
    Stopped,
    /// Terminate the instance.
    Terminated,
}

impl From<core::DesiredStatus> for DesiredStatus {
    fn from(s: core::DesiredStatus) -> Self {
        use core::DesiredStatus as C;
        match s {
            C::Running => Self::Running,
            C::Stopped => Self::Stopped,
            C::Terminated => Self::Terminated,
        }
    }
}

/// An EC2 instance state as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// Booting.
    Pending,
    /// Running.
    Running,
    /// Terminating.
    ShuttingDown,
    /// Gone for good.
    Terminated,
    /// Stopping.
    Stopping,
    /// Stopped: no compute billed, volumes kept.
    Stopped,
    /// A state name this build does not know, or none reported.
    #[serde(other)]
    Unknown,
}

impl From<CoreInstanceState> for InstanceState {
    fn from(s: CoreInstanceState) -> Self {
        use CoreInstanceState as C;
        match s {
            C::Pending => Self::Pending,
            C::Running => Self::Running,
            C::ShuttingDown => Self::ShuttingDown,
            C::Terminated => Self::Terminated,
            C::Stopping => Self::Stopping,
            C::Stopped => Self::Stopped,
            C::Unknown => Self::Unknown,
        }
    }
}

/// Why a worker was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// No user activity for longer than the idle timeout.
    IdleTimeout,
    /// An operator asked for the stop through ccm.
    Manual,
    /// Stopped outside ccm (console, another tool).
    External,
    /// The autoscaler drained and stopped an empty worker.
    ScaleDown,
}

impl From<core::PauseReason> for PauseReason {
    fn from(r: core::PauseReason) -> Self {
        use core::PauseReason as C;
        match r {
            C::IdleTimeout => Self::IdleTimeout,
            C::Manual => Self::Manual,
            C::External => Self::External,
            C::ScaleDown => Self::ScaleDown,
        }
    }
}

/// Why a worker was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResumeReason {
    /// An operator asked for the start through ccm.
    Manual,
    /// Started outside ccm.
    External,
    /// The autoscaler needs capacity.
    ScaleUp,
}

impl From<core::ResumeReason> for ResumeReason {
    fn from(r: core::ResumeReason) -> Self {
        use core::ResumeReason as C;
        match r {
            C::Manual => Self::Manual,
            C::External => Self::External,
            C::ScaleUp => Self::ScaleUp,
        }
    }
}

/// Whether CML answers on the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CmlServiceState {
    /// No answer (instance not running, or network unreachable).
    Unavailable,
    /// Connection refused or 502 while the instance boots, or `ready: false`.
    Starting,
    /// Answers and at least one compute can start nodes.
    Available,
    /// Answers with errors that are not part of booting.
    Error,
}

impl From<core::CmlServiceState> for CmlServiceState {
    fn from(s: core::CmlServiceState) -> Self {
        use core::CmlServiceState as C;
        match s {
            C::Unavailable => Self::Unavailable,
            C::Starting => Self::Starting,
            C::Available => Self::Available,
            C::Error => Self::Error,
        }
    }
}

/// Registration state of the CML licence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceState {
    /// Not registered (the free tier: a handful of nodes).
    Unregistered,
    /// Registration requested, not yet completed.
    RegistrationPending,
    /// Registered and authorised.
    Registered,
    /// Running on an evaluation licence.
    Evaluation,
    /// The licence expired.
    Expired,
    /// Registration or authorisation failed.
    Invalid,
}

impl From<core::LicenceState> for LicenceState {
    fn from(s: core::LicenceState) -> Self {
        use core::LicenceState as C;
        match s {
            C::Unregistered => Self::Unregistered,
            C::RegistrationPending => Self::RegistrationPending,
            C::Registered => Self::Registered,
            C::Evaluation => Self::Evaluation,
            C::Expired => Self::Expired,
            C::Invalid => Self::Invalid,
        }
    }
}

/// The licence product a worker runs on; lablet definitions may require one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceKind {
    /// CML Personal (node-limited).
    Personal,
    /// CML Enterprise.
    Enterprise,
    /// Evaluation licence.
    Evaluation,
}

impl From<core::LicenceKind> for LicenceKind {
    fn from(k: core::LicenceKind) -> Self {
        use core::LicenceKind as C;
        match k {
            C::Personal => Self::Personal,
            C::Enterprise => Self::Enterprise,
            C::Evaluation => Self::Evaluation,
        }
    }
}

impl From<LicenceKind> for core::LicenceKind {
    fn from(k: LicenceKind) -> Self {
        match k {
            LicenceKind::Personal => Self::Personal,
            LicenceKind::Enterprise => Self::Enterprise,
            LicenceKind::Evaluation => Self::Evaluation,
        }
    }
}

/// A utilisation dimension that can raise an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// CPU percent.
    Cpu,
    /// Memory percent.
    Memory,
    /// Disk percent.
    Disk,
    /// The CML certificate changed and waits for an admin.
    CmlCertificate,
}

impl From<core::AlertMetric> for AlertMetric {
    fn from(m: core::AlertMetric) -> Self {
        use core::AlertMetric as C;
        match m {
            C::Cpu => Self::Cpu,
            C::Memory => Self::Memory,
            C::Disk => Self::Disk,
            C::CmlCertificate => Self::CmlCertificate,
        }
    }
}
