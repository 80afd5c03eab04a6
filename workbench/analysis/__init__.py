"""Analysis: what the survey answers say.

Owns importing answers back (interview workbook, Kobo/ODK exports, CSV),
validating them against the survey, response rates, reason rankings with
confidence intervals, segment cross-tabulations with corrected tests, rating
scales and free-text coding.
"""
