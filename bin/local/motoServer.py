"""moto's server, with DynamoDB writes made atomic with respect to each other.

moto 5's TransactWriteItems deep-copies each table it touches and, when a condition fails, puts
that copy back: any write another request made to the table meanwhile (moto's server is
threaded) is erased. In AWS a cancelled transaction changes nothing. So every DynamoDB write
here takes one lock; a transaction holds it from its copy to its end. Reads are not held.
Usage: python3 motoServer.py [moto.server's arguments]
"""
import functools
import threading

from moto.dynamodb.models import DynamoDBBackend
from moto.server import main

_writes = threading.RLock()


def _serialized(method):
    @functools.wraps(method)
    def locked(*args, **kwargs):
        with _writes:
            return method(*args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items"):
    setattr(DynamoDBBackend, _name, _serialized(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    main()
