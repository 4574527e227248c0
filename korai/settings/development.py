"""Local development settings: what manage.py loads unless DJANGO_SETTINGS_MODULE says
otherwise, so `make run` (scripts/run.sh: migrate, the demo user, the api and steps servers and
the development stand-ins) and every `python manage.py ...` on a developer's machine.

base.py's settings with three differences:

- DEBUG is on unless DJANGO_DEBUG=0 (in the environment or `.env`). With it on, no
  DJANGO_SECRET_KEY is needed, the hosts default to 127.0.0.1 and localhost, there is no
  redirect to HTTPS, and log lines are readable text instead of JSON.
- devtools is installed: `manage.py dev_executor` (the development executor, standing in for
  Inngest), `clips_sandbox` (both clips APIs) and `local_s3` (a local S3 store).
- While `make run` runs the development executor (its pid in artifacts/run/dev-executor.pid),
  KORAI_DEV_EXECUTOR_RUNNING is 1 unless the environment or `.env` says otherwise.

Everything else comes from the environment and `.env` (`make run` copies .env.example there),
as in production. Production never loads this module: its servers default to
korai.settings.production, and its management commands name it:

    DJANGO_SETTINGS_MODULE=korai.settings.production python manage.py migrate
"""

import os
from pathlib import Path

from korai.env import read_dot_env

# Where `make run` (scripts/run.sh) writes the development executor's pid while it runs one.
DEV_EXECUTOR_PID = Path(__file__).resolve().parents[2] / "artifacts" / "run" / "dev-executor.pid"


def _dev_executor_alive() -> bool:
    try:
        os.kill(int(DEV_EXECUTOR_PID.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


# .env first, so that a DJANGO_DEBUG there counts (the environment's wins over both); unset or
# empty means this module's default.
read_dot_env()
if not os.environ.get("DJANGO_DEBUG", "").strip():
    os.environ["DJANGO_DEBUG"] = "1"
# A command run in another terminal while `make run` runs the executor (resend_events) knows it.
if not os.environ.get("KORAI_DEV_EXECUTOR_RUNNING", "").strip() and _dev_executor_alive():
    os.environ["KORAI_DEV_EXECUTOR_RUNNING"] = "1"

from korai.settings.base import *  # noqa: E402, F403
from korai.settings.base import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "devtools"]
