"""Local development settings: what manage.py loads unless DJANGO_SETTINGS_MODULE says
otherwise, so `make run` (scripts/run.sh: migrate, the demo user, the api and steps servers and
the development stand-ins) and every `python manage.py ...` on a developer's machine.

base.py's settings with two differences:

- DEBUG is on unless DJANGO_DEBUG=0 (in the environment or `.env`). With it on, no
  DJANGO_SECRET_KEY is needed, the hosts default to 127.0.0.1 and localhost, there is no
  redirect to HTTPS, and log lines are readable text instead of JSON.
- devtools is installed: `manage.py dev_executor` (the development executor, standing in for
  Inngest), `clips_sandbox` (both clips APIs) and `local_s3` (a local S3 store).

Everything else comes from the environment and `.env` (`make run` copies .env.example there),
as in production. Production never loads this module: its servers default to
korai.settings.production, and its management commands name it:

    DJANGO_SETTINGS_MODULE=korai.settings.production python manage.py migrate
"""

import os

from korai.env import read_dot_env

# .env first, so that a DJANGO_DEBUG there counts (the environment's wins over both); unset or
# empty means this module's default.
read_dot_env()
if not os.environ.get("DJANGO_DEBUG", "").strip():
    os.environ["DJANGO_DEBUG"] = "1"

from korai.settings.base import *  # noqa: E402, F403
from korai.settings.base import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
