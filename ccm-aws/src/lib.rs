//! # ccm-aws
//!
//! Will implement `ccm_core::ports::CloudProvider` over `aws-sdk-ec2` and
//! `aws-sdk-cloudwatch` (issue #4). It exposes nothing yet: until then, use the
//! simulated provider of `ccm-sim`.
