/* Fixture variant that must not compile: DP_POLICY_ENTRIES is missing. */
#define DP_ENABLE_POLICY 1
