//! Which running reduction a scan (`cumsum`, `cumprod`, `cummax`, `cummin`, `logcumsumexp`)
//! computes along a dimension.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    Sum,
    Prod,
    /// Running max with the index of the element it came from (ties and NaN: the latest).
    Max,
    Min,
    /// `log(cumsum(exp(x)))`, combined pairwise as `logaddexp` (no overflow, no underflow).
    LogSumExp,
}

impl ScanKind {
    pub fn name(self) -> &'static str {
        match self {
            ScanKind::Sum => "cumsum",
            ScanKind::Prod => "cumprod",
            ScanKind::Max => "cummax",
            ScanKind::Min => "cummin",
            ScanKind::LogSumExp => "logcumsumexp",
        }
    }

    /// Whether the scan also yields the index each running value came from.
    pub fn has_indices(self) -> bool {
        matches!(self, ScanKind::Max | ScanKind::Min)
    }
}
