/** @fileoverview nn kernels (to be filled). */
export {};
