//! The AMI catalog of one region.

use std::collections::BTreeMap;

use ccm_core::ids::ImageId;
use ccm_core::ports::cloud::{name_matches, CloudError, Image, ImageSelector};
use serde::{Deserialize, Serialize};

/// AMIs registered in a region.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct ImageCatalog {
    images: BTreeMap<ImageId, Image>,
}

/// True for `ami-` followed by 8 or 17 hex digits, as EC2 accepts.
pub(crate) fn is_well_formed_ami(id: &str) -> bool {
    id.strip_prefix("ami-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

impl ImageCatalog {
    /// Registers an image.
    pub(crate) fn add(&mut self, image: Image) {
        self.images.insert(image.id.clone(), image);
    }

    /// True when the id is registered.
    pub(crate) fn contains(&self, id: &ImageId) -> bool {
        self.images.contains_key(id)
    }

    /// An image by id.
    pub(crate) fn get(&self, id: &ImageId) -> Option<&Image> {
        self.images.get(id)
    }

    /// Images whose name matches, newest first (ties: name, then id, descending).
    pub(crate) fn find(&self, pattern: &str) -> Vec<Image> {
        let mut found: Vec<Image> = self
            .images
            .values()
            .filter(|i| i.name.as_deref().is_some_and(|n| name_matches(pattern, n)))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.name.cmp(&a.name))
                .then_with(|| b.id.cmp(&a.id))
        });
        found
    }

    /// The image a launch uses, with the errors `RunInstances` gives a real adapter.
    pub(crate) fn resolve(&self, selector: &ImageSelector) -> Result<Image, CloudError> {
        match selector {
            ImageSelector::Id(id) => {
                if !is_well_formed_ami(id.as_str()) {
                    return Err(CloudError::InvalidRequest {
                        operation: "RunInstances".into(),
                        code: "InvalidAMIID.Malformed".into(),
                        message: format!("Invalid id: \"{id}\" (expecting \"ami-...\")"),
                    });
                }
                self.get(id).cloned().ok_or_else(|| CloudError::NotFound {
                    what: "image",
                    id: id.to_string(),
                })
            }
            ImageSelector::NamePattern(pattern) => self
                .find(pattern)
                .into_iter()
                .next()
                .ok_or_else(|| CloudError::NotFound {
                    what: "image",
                    id: pattern.clone(),
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::from_unix_seconds;

    fn image(id: &str, name: &str, created: i64) -> Image {
        Image {
            id: ImageId::new(id),
            name: Some(name.into()),
            description: None,
            created_at: Some(from_unix_seconds(created)),
        }
    }

    fn catalog() -> ImageCatalog {
        let mut c = ImageCatalog::default();
        c.add(image("ami-00000001", "cml-2.9.0", 100));
        c.add(image("ami-00000002", "cml-2.9.1", 200));
        c.add(image("ami-00000003", "ubuntu", 300));
        c
    }

    #[test]
    fn newest_match_first() {
        let found = catalog().find("cml-2.9*");
        let ids: Vec<_> = found.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["ami-00000002", "ami-00000001"]);
        let chosen = catalog()
            .resolve(&ImageSelector::NamePattern("cml-*".into()))
            .unwrap();
        assert_eq!(chosen.id.as_str(), "ami-00000002");
    }

    #[test]
    fn bad_amis_map_like_ec2() {
        let c = catalog();
        let malformed = c
            .resolve(&ImageSelector::Id(ImageId::new("bogus")))
            .unwrap_err();
        assert!(matches!(malformed, CloudError::InvalidRequest { .. }));
        let missing = c
            .resolve(&ImageSelector::Id(ImageId::new("ami-0000000000000dead")))
            .unwrap_err();
        assert!(matches!(
            missing,
            CloudError::NotFound { what: "image", .. }
        ));
        let no_match = c
            .resolve(&ImageSelector::NamePattern("windows-*".into()))
            .unwrap_err();
        assert!(matches!(
            no_match,
            CloudError::NotFound { what: "image", .. }
        ));
    }

    #[test]
    fn ami_id_shapes() {
        assert!(is_well_formed_ami("ami-0123abcd"));
        assert!(is_well_formed_ami("ami-0123456789abcdef0"));
        assert!(!is_well_formed_ami("ami-xyz"));
        assert!(!is_well_formed_ami("i-0123abcd"));
    }
}
