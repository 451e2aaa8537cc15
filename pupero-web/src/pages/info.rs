//! Pages of text: the terms, and how a trade works.

use askama::Template;
use poem::handler;

use super::{Chrome, PageResult, render};
use crate::guard::Ctx;

#[derive(Template)]
#[template(path = "terms.html")]
struct TermsPage {
    c: Chrome,
}

/// The terms of use.
#[handler]
pub(crate) fn terms(ctx: Ctx) -> PageResult {
    render(TermsPage {
        c: Chrome::new(&ctx, "terms-title"),
    })
}

#[derive(Template)]
#[template(path = "how_it_works.html")]
struct HowPage {
    c: Chrome,
}

/// How a trade works, step by step.
#[handler]
pub(crate) fn how_it_works(ctx: Ctx) -> PageResult {
    render(HowPage {
        c: Chrome::new(&ctx, "how-title"),
    })
}
