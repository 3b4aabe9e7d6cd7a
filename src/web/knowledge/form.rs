//! What adding and editing an item share: the form's fields and how its messages read.

use serde::Deserialize;

use crate::domain::knowledge::Field;

/// An item's fields, as the new modal and the edit form post them.
#[derive(Debug, Deserialize)]
pub struct NewItemForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub content: String,
}

/// What the form calls a field (the API's `text` is the form's Content).
pub(super) fn form_label(field: Field) -> &'static str {
    match field {
        Field::Name => "Name",
        Field::Description => "Description",
        Field::Text => "Content",
    }
}

/// The domain's message as the dashboard writes its others: a sentence, with its full stop.
pub(super) fn sentence(mut message: String) -> String {
    if !message.ends_with(['.', '!', '?']) {
        message.push('.');
    }
    message
}
