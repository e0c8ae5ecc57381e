# ISO dates and 24-hour UTC times in the admin: a trading team reads timestamps, not prose.
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s"
MONTH_DAY_FORMAT = "M j"
YEAR_MONTH_FORMAT = "Y-m"
