"""Every rule, one module per step. Importing this package registers them all."""

from auditor.rules import data_model, infrastructure, logs, staging, suppressions, validation  # noqa: F401
from auditor.rules import n_plus_one  # noqa: F401,E402  (step 1: N+1 queries)
from auditor.rules import auth  # noqa: F401,E402  (step 2: route auth, ownership, rate limits)
from auditor.rules import tokens  # noqa: F401,E402  (step 2: JWTs, session tokens, password hashes)
from auditor.rules import async_errors, idempotency, injection  # noqa: F401,E402  (step 3: async errors, idempotency, injection)
from auditor.rules import hardening  # noqa: F401,E402  (step 2: secrets, debug, CORS, cookies)
from auditor.rules import pooling  # noqa: F401,E402  (step 2: connections and pools)
from auditor.rules import filter_indexes, migrations  # noqa: F401,E402  (step 1: PR130, PR110)
from auditor.rules import pagination  # noqa: F401,E402  (step 3: PR321, PR322)
