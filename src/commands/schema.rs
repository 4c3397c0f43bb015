//! `staleauth schema`: print the JSON Schema of the scenario format.

use clap::Args;

use staleauth::error::Error;
use staleauth::scenario::schema;

#[derive(Args)]
pub struct SchemaArgs {}

pub fn exec(_: SchemaArgs) -> Result<u8, Error> {
    print!("{}", schema::json_schema_text());
    Ok(0)
}
