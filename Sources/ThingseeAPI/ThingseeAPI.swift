// The ThingseeAPI module. See the Package.swift comment for its concern.
