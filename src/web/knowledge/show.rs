//! An item's page: its content as Markdown, made safe.

use actix_web::{web, HttpResponse};
use askama::Template;

use super::list::ItemRow;
use crate::db;
use crate::domain::ids::{KnowledgeId, ProjectId};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::htmx;
use crate::web::shell::{Section, Shell};

#[derive(Template)]
#[template(path = "pages/knowledge/show.html")]
struct ItemPage {
    shell: Shell,
    row: ItemRow,
    html: String,
    can_edit: bool,
}

pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<(ProjectId, KnowledgeId)>,
    shell: Shell,
) -> Result<HttpResponse, WebError> {
    let (_, kid) = path.into_inner();
    let item = shell.find(&state, kid, db::knowledge::find).await?;
    htmx::html(&ItemPage {
        can_edit: shell.role.can_edit_data(),
        row: ItemRow::from(&item),
        html: crate::markdown::to_safe_html(&item.text),
        shell,
    })
}
