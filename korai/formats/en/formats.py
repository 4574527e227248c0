# To the second, as a job's timeline shows its steps: the admin's times (a job's start and end,
# an event's delivery) are read against each other, often seconds apart.
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
