//! # ccm-sim (being written)
