"""Tests of the chat channels against local fakes of the vendor APIs."""
