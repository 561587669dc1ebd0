/** @fileoverview reduce kernels (to be filled). */
export {};
