/* Fixture variant that compiles but that the verifier rejects. */
#define DP_POLICY_ENTRIES 1024
#define DP_ENABLE_POLICY 0
#define DP_VERIFIER_BUG 1
