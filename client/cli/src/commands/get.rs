//! `audit get ID`: one entry, as indented JSON unless `--format` says
//! otherwise.

use crate::cli::GetArgs;
use crate::error::CliError;
use crate::output::{Format, json};
use crate::service::Service;
use std::io::{self, Write};

pub async fn run(service: &Service, args: GetArgs) -> Result<(), CliError> {
    let entry = service.get(&args.id).await?;
    let mut out = io::stdout().lock();
    match args.format {
        // A single entry reads best as one object, not an array of one.
        None | Some(Format::Json) => json::write_pretty(&mut out, &entry),
        Some(format) => {
            let mut writer = format.writer();
            writer
                .begin(&mut out)
                .and_then(|()| writer.entry(&mut out, &entry))
                .and_then(|()| writer.end(&mut out))
        }
    }
    .and_then(|()| out.flush())
    .map_err(CliError::Output)
}
