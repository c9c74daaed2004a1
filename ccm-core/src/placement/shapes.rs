//! Request shapes interned once per batch, and the decreasing-size order.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::request::{PlacementRequest, RequestShape};
use super::room::Room;
use crate::ids::LabletId;

/// One distinct shape of a batch.
#[derive(Clone, Debug)]
pub(crate) struct ShapeInfo {
    pub(crate) shape: RequestShape,
    pub(crate) need: Room,
    pub(crate) size: u64,
}

/// Every request's shape id, and the shapes. Interning turns per-request work
/// (hashing, size, compatible groups, failure cache) into per-shape work.
#[derive(Clone, Debug, Default)]
pub(crate) struct Shapes {
    pub(crate) of_request: Vec<usize>,
    pub(crate) list: Vec<ShapeInfo>,
}

impl Shapes {
    /// Interns the shapes of `requests`, sizing each against `scale` (the largest
    /// room of any eligible worker, per dimension).
    pub(crate) fn intern(requests: &[PlacementRequest], scale: &Room) -> Self {
        let mut ids: HashMap<RequestShape, usize> = HashMap::new();
        let mut shapes = Shapes {
            of_request: Vec::with_capacity(requests.len()),
            list: Vec::new(),
        };
        for request in requests {
            let shape = request.shape();
            let id = match ids.get(&shape) {
                Some(&id) => id,
                None => {
                    let id = shapes.list.len();
                    let need = Room::of_needs(&shape.needs);
                    ids.insert(shape.clone(), id);
                    shapes.list.push(ShapeInfo {
                        shape,
                        need,
                        size: need.size_against(scale),
                    });
                    id
                }
            };
            shapes.of_request.push(id);
        }
        shapes
    }

    /// Request indices by decreasing size, then lablet id, then input position: a
    /// total order, so the batch is deterministic whatever the sort algorithm does
    /// with equal elements.
    pub(crate) fn decreasing_order(&self, requests: &[PlacementRequest]) -> Vec<usize> {
        let mut keyed: Vec<(Reverse<u64>, LabletId, usize)> = requests
            .iter()
            .enumerate()
            .map(|(index, request)| {
                let size = self
                    .of_request
                    .get(index)
                    .and_then(|&shape| self.list.get(shape))
                    .map_or(0, |info| info.size);
                (Reverse(size), request.lablet, index)
            })
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|(_, _, index)| index).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::ResourceNeeds;
    use crate::resources::Resources;

    fn request(id: u128, cpus: u64) -> PlacementRequest {
        PlacementRequest::new(
            LabletId::from_u128(id),
            ResourceNeeds {
                resources: Resources::new(cpus, 1, 1),
                nodes: 1,
                ports: 1,
            },
        )
    }

    #[test]
    fn identical_shapes_share_an_id() {
        let requests = [request(1, 2), request(2, 4), request(3, 2)];
        let shapes = Shapes::intern(&requests, &Room::of_needs(&requests[1].needs));
        assert_eq!(shapes.of_request, vec![0, 1, 0]);
        assert_eq!(shapes.list.len(), 2);
    }

    #[test]
    fn order_is_by_size_then_id_then_position() {
        let requests = [request(5, 2), request(3, 2), request(9, 8), request(3, 2)];
        let scale = Room::of_needs(&requests[2].needs);
        let shapes = Shapes::intern(&requests, &scale);
        assert_eq!(shapes.decreasing_order(&requests), vec![2, 1, 3, 0]);
    }
}
