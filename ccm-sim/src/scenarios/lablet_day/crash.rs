//! A crash inside an engine step: the step's future is dropped at one of its
//! awaits, as a killed process stops wherever it stood. Dropping a future runs
//! no more of its code, so whatever the step had not yet written is lost, and
//! whatever it had sent (an EC2 launch, a CML import, a commit in flight) may
//! have happened without the engine learning of it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `inner` as any caller would. Once `armed` holds, the `at_wait`-th time
/// `inner` waits (returns `Pending`) it is given up there: the output is `None`.
/// `Some` is the output of an `inner` that finished first.
pub(super) struct Interrupt<F, A> {
    inner: Pin<Box<F>>,
    armed: A,
    waits_left: u32,
}

impl<F, A> Interrupt<F, A> {
    pub(super) fn new(inner: F, armed: A, at_wait: u32) -> Self {
        Self {
            inner: Box::pin(inner),
            armed,
            waits_left: at_wait.max(1),
        }
    }
}

impl<F: Future, A: FnMut() -> bool + Unpin> Future for Interrupt<F, A> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match this.inner.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending => {
                if (this.armed)() {
                    this.waits_left -= 1;
                    if this.waits_left == 0 {
                        return Poll::Ready(None);
                    }
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits `n` times (waking itself each time), then finishes with `n`.
    struct WaitsThenDone {
        left: u32,
        n: u32,
    }

    impl Future for WaitsThenDone {
        type Output = u32;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            if self.left == 0 {
                return Poll::Ready(self.n);
            }
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn an_armed_interrupt_gives_up_at_the_chosen_wait_and_a_disarmed_one_never() {
        let waits = |n| WaitsThenDone { left: n, n };
        assert_eq!(block_on(Interrupt::new(waits(5), || true, 3)), None);
        assert_eq!(block_on(Interrupt::new(waits(5), || false, 1)), Some(5));
        assert_eq!(block_on(Interrupt::new(waits(2), || true, 3)), Some(2));
        // Armed only after the second wait: the third wait is the first counted.
        let mut polls = 0;
        let armed = move || {
            polls += 1;
            polls > 2
        };
        assert_eq!(block_on(Interrupt::new(waits(4), armed, 2)), None);
        assert_eq!(block_on(Interrupt::new(waits(3), armed, 2)), Some(3));
    }
}
