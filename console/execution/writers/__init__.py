"""One writer per system, for the steps the executor has granted a change.

- :mod:`.aws` — :class:`AwsReader` / :class:`AwsWriter`: RDS, Route53, S3, EC2 (aioboto3).
- :mod:`.sql` — :class:`SqlWriter`: validated identifiers, maintenance outside a
  transaction, cancelling and terminating backends.
- :mod:`.redis` — :class:`RedisWriter`: commands by an allow-list per risk.
- :mod:`.http` — :class:`WebhookWriter`: Slack and status-page posts, the URL a secret.

Every writer refuses with :class:`WriterRefused` (nothing was sent). Each also exposes the
arguments it sends (``change_batch``, ``*_sql``, ``payload``) so that
:mod:`console.execution.commands` renders the plan's command from the same values.
Heavy clients (aioboto3, asyncpg, redis) are imported only when a writer first uses them.
"""

from .aws import (
    AliasTarget,
    AwsError,
    AwsReader,
    AwsTimeout,
    AwsWriter,
    ChangeInfo,
    DbInstance,
    DnsRecord,
    Ec2Instance,
    S3Object,
    change_batch,
)
from .errors import WriterRefused
from .http import WebhookError, WebhookNotConfigured, WebhookWriter
from .redis import PatternSize, RedisWriter
from .sql import IndexProgress, SqlWriter, VacuumProgress, quote_ident, validate_identifier

__all__ = [
    "AliasTarget", "AwsError", "AwsReader", "AwsTimeout", "AwsWriter", "ChangeInfo",
    "DbInstance", "DnsRecord", "Ec2Instance", "IndexProgress", "PatternSize", "RedisWriter",
    "S3Object", "SqlWriter", "VacuumProgress", "WebhookError", "WebhookNotConfigured",
    "WebhookWriter", "WriterRefused", "change_batch", "quote_ident", "validate_identifier",
]
