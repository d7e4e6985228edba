//! `audit delete ID --reason TEXT`: deletes one entry; the service records
//! the deletion as an `audit_log.deleted` entry.

use crate::cli::DeleteArgs;
use crate::error::CliError;
use crate::output;
use crate::service::Service;

pub async fn run(service: &Service, args: DeleteArgs) -> Result<(), CliError> {
    let deleted = service.delete(&args.id, &args.reason).await?;
    output::print(&format!(
        "deleted {} (recorded as {})\n",
        deleted.id, deleted.deletion_record_id
    ))
}
