# Problem titles (RFC 9457 "title")
problem-unauthenticated = Authentication required
problem-unauthenticated-detail = Log in, or send a valid API token in the Authorization header.
problem-forbidden = Not permitted
problem-forbidden-detail = The node's policy does not permit this (rule: { $rule }).
problem-not-found = Not found
problem-not-found-detail = There is no { $kind } with that identifier.
problem-validation = Invalid input
problem-validation-detail = { $count ->
    [one] One field is invalid.
   *[other] { $count } fields are invalid.
}
problem-bad-query = Invalid query parameters
problem-malformed-json = Malformed JSON
problem-malformed-json-detail = The request body is not valid JSON.
problem-malformed-request = Malformed request
problem-malformed-request-detail = This node could not read the request; check its path, query and headers.
problem-unsupported-media-type = Unsupported media type
problem-unsupported-media-type-detail = Send the request body as application/json.
problem-payload-too-large = Request body too large
problem-payload-too-large-detail = The request body is larger than this node accepts ({ $limit } bytes).
problem-version-conflict = Version conflict
problem-version-conflict-detail = The record is at version { $current }; you sent version { $given }. Reload it and apply your change again.
problem-joint-change = Joint commitment
problem-joint-change-detail = A joint commitment changes only when both parties sign the change; one party cannot change it alone.
problem-duplicate = Already exists
problem-duplicate-detail = A { $what } with these values already exists.
problem-too-many-requests = Too many attempts
problem-too-many-requests-detail = Too many failed logins. Try again in { $seconds } seconds.
problem-login-failed = Login failed
problem-login-failed-detail = The user name or password is wrong, or the account is disabled.
problem-internal = Internal error
problem-internal-detail = Something went wrong on this node. Quote request { $request_id } to its administrator.
problem-method-not-allowed = Method not allowed
problem-method-not-allowed-detail = This route does not accept that method; see the Allow header.

# Field errors
field-missing = This field is required.
field-wrong-type = Wrong type: expected { $expected }.
field-unknown-field = Unknown field.
field-unknown-area = Unknown measure area.
field-unknown-party = Unknown party: use an ISO 3166-1 alpha-2 code such as US or MX.
field-unknown-indicator = Unknown indicator.
field-unknown-commitment = Unknown commitment.
field-due-before-start = The due date is before the start date.
field-missing-language = The { $lang ->
    [es] Spanish
   *[en] English
} text is missing.
field-unknown-language = Unknown language tag: use en or es.
field-too-long = Too long: at most { $max }.
field-empty = This field must not be empty.
field-invalid-format = Invalid format: expected { $expected }.
field-out-of-range = Value out of range.
field-duplicate = Duplicate value.
field-immutable = This field cannot be changed.
field-mismatch = This does not match what is on record.
field-contradictory = This value contradicts another field of the same item.
field-end-not-after-start = The end must be later than the start.
field-incomplete = Too little to identify it: give at least the fields its kind requires.

# Expected-type names used in field-wrong-type and field-invalid-format
type-string = text
type-number = a number
type-integer = a whole number
type-boolean = true or false
type-object = an object
type-array = a list
type-date = a date (YYYY-MM-DD)
type-period = a period (2025, 2025Q3 or 2025-09)
type-period-same-kind = a period of the same kind as this indicator's other measurements
type-uuid = an identifier (UUID)
type-role = a role
type-direction = higher-is-better or lower-is-better
type-status = not-started, on-track, at-risk, overdue or done
type-indicator-code = capital letters, digits and dashes
type-cursor = a cursor from a previous page
type-language = en or es
type-user-name = lower-case letters, digits, ".", "_" or "-" (at most 64)
type-text = text without control characters
type-plate = a licence plate (letters, digits, spaces, hyphens and dots; at most 16)
type-imo-number = an IMO number (seven digits with a valid check digit)
type-mmsi = an MMSI (nine digits)
type-firearm = a firearm
type-vehicle = a vehicle
type-person = a person

# Kinds of record, used in messages
kind-commitment = commitment
kind-action = action
kind-indicator = indicator
kind-measurement = measurement
kind-meeting = meeting
kind-user = user
kind-route = page
kind-follow-up = follow-up
kind-node = node
kind-token = token
kind-session = session
kind-audit = audit entry
kind-program = program
kind-me = user

problem-step-refused = Step not possible
problem-step-refused-detail = This step does not fit where the item stands: { $reason }
problem-exchange-unavailable = Exchange unavailable
problem-exchange-unavailable-detail = This node runs without its exchange with peers; ask its administrator.
step-wrong-party = your party may not take this step on this item.
step-already-done = it was already taken.
step-out-of-order = it cannot come at this point of the item's life.
step-invalid = what it says is not valid.
field-unknown-peer = No peer of this party is registered on this node.
kind-referral = referral
kind-request = request for information
kind-peer = peer
kind-reciprocity = reciprocity figures
kind-item = item
type-date-time = a date and time (RFC 3339, e.g. 2026-11-25T14:00:00Z)
type-entity-type = person, organization, vehicle, vessel, firearm, account or location
type-referral-kind = arms-trafficking, drug-shipment, human-smuggling, clandestine-tunnel, fuel-theft, illicit-financial-flow, wanted-person-located or other
type-request-kind = firearm-trace, person-check, vehicle-plate or other
type-urgency = flash, immediate, priority or routine
type-tlp = a TLP 2.0 level: clear, green, amber, amber-strict or red
type-source-reliability = A, B, C or X
type-information-credibility = 1, 2, 3 or 4
type-result-kind = seizure, arrest or interdiction
type-outcome-kind = acted, no-trace or declined
type-answer-kind = found, not-found or declined
type-referral-step = a referral step
type-request-step = a request step
type-flow-direction = outbound or inbound
type-party = an ISO 3166-1 alpha-2 party code such as US or MX
kind-receipt = receipt
kind-log = exchange log
kind-log-entry = exchange log entry
kind-checkpoint = checkpoint
kind-envelope = envelope
kind-dispute = dispute
