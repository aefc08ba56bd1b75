"""Whether a Redis ACL rule string lets its user change anything.

The start-up probe reads the user's rules with ``ACL GETUSER`` (readable by any user that
may run it on itself) and replays them here, rather than asking the server with
``ACL DRYRUN``: DRYRUN needs the @admin rights a read-only user is not given, and it answers
for one command on one key, so a "no" for ``SET k v`` says nothing about ``HSET`` or a key
the user's patterns do allow.

The replay errs towards "can write": a category is read-only only if Redis files no
command that changes data under it. ``@fast`` and ``@slow`` are not (``SET`` is fast), nor
are ``@keyspace`` (``DEL``), ``@blocking`` (``BLPOP`` pops) or ``@admin`` (``CONFIG SET``).
"""

from __future__ import annotations

from collections.abc import Iterable

# categories whose every command leaves the data and the server's settings as they are
READ_ONLY_CATEGORIES = frozenset({"read", "connection", "pubsub", "transaction"})

# Redis 7's @write category (``ACL CAT write``) plus the admin commands that change the
# server itself; "cmd|sub" names one subcommand
WRITE_COMMANDS = frozenset("""
append bitfield bitop blmove blmpop blpop brpop brpoplpush bzmpop bzpopmax bzpopmin copy
decr decrby del expire expireat flushall flushdb function|delete function|flush
function|load function|restore geoadd georadius georadiusbymember geosearchstore getdel
getex getset hdel hincrby hincrbyfloat hmset hset hsetnx incr incrby incrbyfloat linsert
lmove lmpop lpop lpush lpushx lrem lset ltrim migrate move mset msetnx persist pexpire
pexpireat pfadd pfdebug pfmerge psetex rename renamenx restore restore-asking rpop
rpoplpush rpush rpushx sadd sdiffstore set setbit setex setnx setrange sinterstore smove
sort spop srem sunionstore swapdb unlink xack xadd xautoclaim xclaim xdel xgroup|create
xgroup|createconsumer xgroup|delconsumer xgroup|destroy xgroup|setid xreadgroup xsetid
xtrim zadd zdiffstore zincrby zinterstore zmpop zpopmax zpopmin zrangestore zrem
zremrangebylex zremrangebyrank zremrangebyscore zunionstore
acl|setuser acl|deluser acl|load config|set config|rewrite config|resetstat module|load
module|loadex module|unload replicaof slaveof debug shutdown failover script|flush
""".split())
_WRITE_PARENTS = frozenset(c.split("|")[0] for c in WRITE_COMMANDS if "|" in c)


def _command_writes(name: str) -> bool:
    """``set``, ``config|set`` or a whole container command (``config``) with a writing
    subcommand."""
    return name in WRITE_COMMANDS or name in _WRITE_PARENTS


def rules_can_write(rules: str) -> bool:
    """Replay one rule string (``-@all +@read +set``) token by token, in order."""
    write = False
    for token in rules.split():
        t = token.lower()
        if t in ("allcommands", "+@all"):
            write = True
        elif t in ("nocommands", "-@all", "-@write"):
            # -@write takes every data-changing command away, whatever came before; the
            # probe's question is about the data, so admin commands left over from +@all
            # (CONFIG SET) do not count here
            write = False
        elif t.startswith("+@"):
            write = write or t[2:] not in READ_ONLY_CATEGORIES
        elif t.startswith("+") and _command_writes(t[1:]):
            write = True
    return write


def acl_can_write(commands: str, selectors: Iterable[str] = ()) -> bool:
    """The user's root rules, or any of its Redis 7 selectors, allow a write."""
    return rules_can_write(commands) or any(rules_can_write(s) for s in selectors)
